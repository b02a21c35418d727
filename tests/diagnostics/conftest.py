"""Reuse tests/inference's models and fits (bq_inference_models.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "inference"))
