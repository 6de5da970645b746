"""The nginx JSON log keys that both readers of nginx lines share.

`nginx` reads line by line and imports `nginx_columns`, which reads a batch by
columns; with the shared keys here, `nginx_columns` needs nothing from `nginx`.
"""

# The rate-limit headers' keys, in the order both JSON paths produce their values.
HEADROOM_KEYS = (
    "rl_limit_requests", "rl_remaining_requests", "rl_limit_tokens", "rl_remaining_tokens",
    "rl_reset_requests", "rl_reset_tokens",
)
