"""The pipeline core: validate, plan, record in the ledger, execute through a backend, join."""
