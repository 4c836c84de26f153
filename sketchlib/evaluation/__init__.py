"""The measuring instruments of the book's experiments, one module per concern.

========================================  =======================================================================
module                                    what it measures
========================================  =======================================================================
:mod:`~sketchlib.evaluation.classifiers`  sketch classifiers (raster, stroke), recognisability, over seeds too
:mod:`~sketchlib.evaluation.latent`       latent coherence (AI-Sketcher experiment 1): vectors, t-SNE, silhouette
:mod:`~sketchlib.evaluation.study`        the user study (experiment 3): machine raters, the ratings' analysis
:mod:`~sketchlib.evaluation.diversity`    generation diversity (Figure 5): perceptual-hash distances, t-test
:mod:`~sketchlib.evaluation.intervals`    the confidence intervals all of them report (Wilson, Student's t)
:mod:`~sketchlib.evaluation.likelihood`   losses of single drawings (l_r, l_kl, the bound), for paired comparisons
:mod:`~sketchlib.evaluation.retrieval`    whether the latent carries the drawing: top-1 retrieval of reconstructions
========================================  =======================================================================

Every name is importable from here as well: ``from sketchlib.evaluation import RasterClassifier, mean_ci``.
"""

from sketchlib.evaluation.classifiers import (
    RasterClassifier,
    Recognisability,
    StrokeClassifier,
    StrokeNet,
    confusion_matrix,
    recognisability_over_seeds,
)
from sketchlib.evaluation.diversity import (
    diversity_table,
    mean_distance_per_drawing,
    pairwise_distances,
    phash_distance_matrix,
)
from sketchlib.evaluation.intervals import mean_ci, wilson_interval
from sketchlib.evaluation.latent import LatentCoherence, latent_coherence, latent_vectors, silhouette, tsne_embedding
from sketchlib.evaluation.likelihood import per_drawing_losses
from sketchlib.evaluation.retrieval import retrieval_top1, retrieved
from sketchlib.evaluation.study import (
    LIKERT_EDGES,
    RatingAnalysis,
    analyse_ratings,
    apa_p,
    likert_from_confidence,
    machine_ratings,
    train_machine_raters,
)

__all__ = [
    "RasterClassifier", "Recognisability", "StrokeClassifier", "StrokeNet", "confusion_matrix",
    "recognisability_over_seeds", "wilson_interval", "mean_ci",
    "latent_vectors", "tsne_embedding", "silhouette", "LatentCoherence", "latent_coherence",
    "LIKERT_EDGES", "likert_from_confidence", "train_machine_raters", "machine_ratings",
    "RatingAnalysis", "analyse_ratings", "apa_p",
    "phash_distance_matrix", "pairwise_distances", "mean_distance_per_drawing", "diversity_table",
    "per_drawing_losses", "retrieved", "retrieval_top1",
]
