"""Make the shared test models (bq_inference_models.py) importable under importlib mode."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
