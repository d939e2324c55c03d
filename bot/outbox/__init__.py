"""From "we want to say this" to "the provider has it": `queue` renders and queues a message in
the transaction that wants it sent, `sender` hands queued rows to the channels under a lease with
retries, `delivery` records the providers' status callbacks.
"""
