"""How a proposal is made, in plain Python over a loaded model (no ORM, no file reads).

The encoder, number parser, text features, predictor, candidate clustering and time summary;
training (the evaluation) and serving (the inference API) both import from here. Nothing here
imports Django or the web layer: the refusals are ``routing_core.errors``, which
``routing_site.errors`` re-exports.
"""
