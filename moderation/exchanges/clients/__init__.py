"""One client per programme, each written from its public API documentation
(moderation/exchanges/clients/base.py says what a client is)."""
