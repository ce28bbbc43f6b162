"""How a proposal is made, in plain Python over a loaded model (no ORM, no file reads).

The encoder, number parser, text features, predictor, candidate clustering and time summary;
training (the evaluation) and serving (the inference API) both import from here. The only
import of the web layer left is the predictor's error classes (``routing_site.errors``).
"""
