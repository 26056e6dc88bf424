"""Write ``tumour_stream.csv``, the data of ``05_monitor_and_retrain.ipynb``.

scikit-learn's bundled Wisconsin breast-cancer data (569 tumours, 30 measurements of cell
nuclei, no download needed), in a fixed random order read as the order the tumours arrived:
``week`` 0 holds the first 209 (the training period), weeks 1-6 hold 60 each. The diagnosis
is spelled out ("benign", "malignant"). No value is changed: the notebook injects its drift
itself, in plain sight.

Run from the repository root: ``python notebooks/data/make_tumour_stream.py``.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

FIRST_WEEK, PER_WEEK = 209, 60


def main() -> None:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame["diagnosis"] = data.target_names[data.target]
    frame = frame.sample(frac=1, random_state=1).reset_index(drop=True)
    week = np.zeros(len(frame), dtype=int)
    week[FIRST_WEEK:] = 1 + (np.arange(len(frame) - FIRST_WEEK) // PER_WEEK)
    frame.insert(0, "week", week)
    frame.to_csv(Path(__file__).with_name("tumour_stream.csv"), index=False)


if __name__ == "__main__":
    main()
