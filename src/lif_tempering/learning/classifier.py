"""The digit classifier that labels samples: multinomial logistic regression and the images it sees.

:func:`train_classifier` fits scikit-learn's multinomial logistic regression to the
binarised training images; :class:`SoftmaxClassifier` applies stored coefficients (the
classifier travels in every RBM file); :func:`classify` gives labels and confidences;
:func:`visible_readout` turns a sample's states into the image the classifier sees
(the visible states, or the mean field ``p(v = 1 | h)`` of its hidden state, docs/mixing.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, softmax

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

#: What the classifier sees of a sample (:func:`visible_readout`).
READOUTS = ("mean_field", "visible")


def visible_readout(z, n_visible: int, W, b_v, readout: str = "mean_field") -> np.ndarray:
    """Images to classify, (time, n_visible) float: the visible states or ``p(v = 1 | h)`` at ``T = 1``.

    ``z`` (time, unit) binary, visible units first; ``W`` (n_v, n_h), ``b_v`` (n_v,).
    """
    z = np.asarray(z)
    if readout == "visible":
        return z[:, :n_visible].astype(np.float64)
    if readout == "mean_field":
        return expit(z[:, n_visible:].astype(np.float64) @ np.asarray(W).T + np.asarray(b_v))
    raise ValueError(f"unknown readout {readout!r}; allowed: {', '.join(READOUTS)}")


@dataclass(frozen=True)
class SoftmaxClassifier:
    """Multinomial logistic regression from stored coefficients, e.g. of an RBM dataset.

    ``coef`` (K, D) and ``intercept`` (K,): ``p(k | x) = softmax(coef x + intercept)_k``,
    as scikit-learn's multinomial :class:`~sklearn.linear_model.LogisticRegression`
    (K > 2) computes it. Classes are ``0 .. K-1``.
    """

    coef: np.ndarray
    intercept: np.ndarray

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(np.shape(self.intercept)[0])

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities (n, K) of ``images`` (n, D)."""
        return softmax(np.asarray(images, dtype=np.float64) @ np.asarray(self.coef).T + self.intercept, axis=1)


def classify(classifier, images) -> tuple[np.ndarray, np.ndarray]:
    """Labels (int64) and confidences (the label's probability) of ``images`` (n, D).

    ``classifier`` has ``predict_proba`` and ``classes_`` equal to ``0 .. K-1`` (a fitted
    scikit-learn classifier or a :class:`SoftmaxClassifier`).
    """
    classes = np.asarray(classifier.classes_)
    if not np.array_equal(classes, np.arange(classes.size)):
        raise ValueError(f"the classifier's classes must be 0 .. K-1, got {classes}")
    probability = classifier.predict_proba(np.asarray(images, dtype=np.float64))
    return probability.argmax(axis=1).astype(np.int64), probability.max(axis=1)


def train_classifier(images, labels, seed: int = 0, regularisation_c: float = 1.0) -> LogisticRegression:
    """Multinomial logistic regression (lbfgs, L2 with inverse strength ``regularisation_c``)
    fitted to binary ``images`` (N, D) and integer ``labels`` (N,).

    lbfgs is deterministic; ``seed`` is passed as ``random_state`` for completeness.
    Use ``classifier.predict(v)`` to label samples.
    """
    from sklearn.linear_model import LogisticRegression  # imported here: ~0.6 s that sampling jobs do not need

    classifier = LogisticRegression(C=regularisation_c, max_iter=2000, random_state=seed)
    return classifier.fit(np.asarray(images, dtype=np.float64), np.asarray(labels))


def classification_accuracy(classifier, images, labels) -> float:
    """Fraction of ``images`` (N, D) whose predicted label equals ``labels`` (N,)."""
    return float(np.mean(classifier.predict(np.asarray(images, dtype=np.float64)) == np.asarray(labels)))
