"""Explanation methods, written once over the Backend protocol (see base.py for the shared parts).

Each module holds one idea: activations (feature maps, filters), patterns (gradient ascent),
patches (maximally activating patches), gradients (saliency, guided backprop, SmoothGrad,
Integrated Gradients), cam (Grad-CAM, Grad-CAM++, Guided Grad-CAM), occlusion, lime_method;
faithfulness (deletion / insertion) and sanity (model randomisation, LIME stability) judge them.
"""

from workbench.explain.activations import FeatureMaps, Filters
from workbench.explain.base import Cost, Explainer, Explanation, Param
from workbench.explain.cam import GradCAM, GradCAMPlusPlus, GuidedGradCAM
from workbench.explain.gradients import GuidedBackprop, IntegratedGradients, Saliency, SmoothGrad
from workbench.explain.lime_method import Lime
from workbench.explain.occlusion import Occlusion
from workbench.explain.patches import MaxPatches
from workbench.explain.patterns import FilterPatterns

# The ten methods of the source documents, then the extras, in the order the page shows them.
BUILT_IN = (FeatureMaps, Filters, FilterPatterns, MaxPatches, Saliency, GuidedBackprop, GradCAM,
            GuidedGradCAM, Occlusion, Lime, SmoothGrad, IntegratedGradients, GradCAMPlusPlus)

__all__ = ["BUILT_IN", "Cost", "Explainer", "Explanation", "Param"] + [c.__name__ for c in BUILT_IN]
