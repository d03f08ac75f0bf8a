"""The autograd tutorial's ``calc``: b = 2a+1, c = b*b, d = c/(c+2), mean.

At a = [1, 2, 3] its exact gradient is [8/121, 40/2187, 56/7803] = [0.0661157024793, 0.0182898948331,
0.00717672689991]. The tutorial ran in float32 and checked it by hand with forward differences of step
0.001: 0.06604194641113281, 0.018298625946044922, 0.007152557373046875.

    gradcheck run sample_functions/tutorial.py:calc --x 1,2,3
    gradcheck run sample_functions/tutorial.py:calc --x 1,2,3 --dtype float32 --method forward --eps 1e-3
"""

import torch


def calc(a: torch.Tensor) -> torch.Tensor:
    b = a * 2 + 1
    c = b * b
    d = c / (c + 2)
    e = d.mean()
    return e
