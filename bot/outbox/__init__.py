"""From "we want to say this" to "the provider has it": `sender` queues rendered messages and
sends them under a lease with retries; `delivery` records the providers' status callbacks.
"""
