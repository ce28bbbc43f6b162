"""How a proposal is made, in plain Python over a loaded model (no Django, no ORM).

Training (the evaluation) and serving (the inference API) both import from here.
"""
