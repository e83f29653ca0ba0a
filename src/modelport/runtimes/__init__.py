"""Runtimes: the built-in model servers a replica runs, and the catalog that describes them.

Each server module runs as its own process (`python -m modelport.runtimes.<name>`), so its
heavy imports (scikit-learn, onnxruntime, torch) never load into the control plane.
"""
