"""Human hand-off: triggers, the agent queue, accounts, the agent console and hand-back."""
