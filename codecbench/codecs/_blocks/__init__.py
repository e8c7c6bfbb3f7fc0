"""Building blocks shared by DyCAST and FocalCodec (identical classes and state_dict names in both
official codebases): the truncated WavLM encoder, focal-modulation encoder/decoder, Vocos, kNN."""
