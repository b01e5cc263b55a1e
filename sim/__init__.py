"""anvil process control, the local world of real Uniswap contracts, and traffic."""
