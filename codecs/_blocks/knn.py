"""The codecs' kNN is the harness's cosine kNN (one implementation, used by kNN voice conversion too)."""

from bench.knn import cosine_distance, knn

__all__ = ["cosine_distance", "knn"]
