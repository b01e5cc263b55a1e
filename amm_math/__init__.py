"""EVM-exact AMM math (Python ints) and the numba float kernels that mirror it."""
