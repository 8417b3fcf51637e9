"""Survey-weighted regression models: generalised linear models (R survey ``svyglm``,
``predict.svyglm``, ``regTermTest``) and the design-based t-test (``svyttest``).

Both designs have them as methods: ``design.glm("y ~ x + C(region)", "binomial")``,
``design.ttest("y", "sex")``. See :func:`glm` for the formulas.
"""

from flestimate.models._glm import glm, ttest
from flestimate.models._result import GLMResult, TTestResult, WaldTest

__all__ = ["GLMResult", "TTestResult", "WaldTest", "glm", "ttest"]
