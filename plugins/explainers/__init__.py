"""Built-in explainers: the methods of the source documents plus SmoothGrad, Integrated Gradients
and Grad-CAM++, registered like any third-party plugin's."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_explainers(register):
    from workbench.explain import BUILT_IN

    for cls in BUILT_IN:
        register(cls())
