"""Pool table, token graph, cycle search, gas prediction and exact re-pricing."""
