"""One client per programme, each written from its public API documentation
(moderation/exchanges/clients/base.py says what a client is)."""

from importlib import import_module

from moderation.exchanges.clients.base import ExchangeClient

# Exchange.Kind -> "module.Class"; a client's module is imported when one is needed.
CLIENTS = {
    "ncmec": "moderation.exchanges.clients.ncmec.NcmecClient",
    "stopncii": "moderation.exchanges.clients.stopncii.StopNciiClient",
    "threatexchange": "moderation.exchanges.clients.threatexchange.ThreatExchangeClient",
    "https_feed": "moderation.exchanges.clients.feed.FeedClient",
}


def client_class(kind: str) -> type[ExchangeClient]:
    module, _, name = CLIENTS[kind].rpartition(".")
    return getattr(import_module(module), name)


def client_for(exchange) -> ExchangeClient:
    return client_class(exchange.kind)(exchange)
