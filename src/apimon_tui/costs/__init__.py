"""What calls cost and what is left to spend.

`pricing` estimates a call's cost from its tokens, `usage/` polls the
providers' usage and cost APIs, and `budget` turns both into month-to-date
spend, burn rate and forecast.
"""
