"""Differentiable, batched quadrature in TensorFlow (layer 1 of bayesquad)."""
from bayesquad.quadrature._choice import Adaptive, GaussHermite
from bayesquad.quadrature._coordinates import (
    finite_parts,
    scaled_map,
    unit_map,
    unit_map_inverse,
)
from bayesquad.quadrature._cubature import cubature
from bayesquad.quadrature._frozen import MAX_BOX_NODES, GaussLegendre
from bayesquad.quadrature._integrate import integrate
from bayesquad.quadrature._methods import methods
from bayesquad.quadrature._settings import current_reference, reference_settings
from bayesquad.quadrature._status import (
    IntegrationResult,
    Status,
    status_message,
    summarize_status,
)
from bayesquad.quadrature._tables import (
    KRONROD_SIZES,
    gauss_hermite,
    gauss_kronrod,
    gauss_legendre,
)

__all__ = [
    "Adaptive",
    "GaussHermite",
    "GaussLegendre",
    "KRONROD_SIZES",
    "IntegrationResult",
    "MAX_BOX_NODES",
    "Status",
    "cubature",
    "current_reference",
    "finite_parts",
    "gauss_hermite",
    "gauss_kronrod",
    "gauss_legendre",
    "integrate",
    "methods",
    "reference_settings",
    "scaled_map",
    "status_message",
    "summarize_status",
    "unit_map",
    "unit_map_inverse",
]
