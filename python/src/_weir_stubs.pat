# Type stubs of what the stub generator cannot see through: the Nexmark event classes' fields
# are CPython getset descriptors (python/src/nexmark.cc).
weir\._weir\.(Person|Auction|Bid)\.(id|dateTime|initialBid|reserve|expires|seller|category|bidder|price|event_type)$:
    @property
    def \2(self) -> int: ...

weir\._weir\.Bid\.auction$:
    @property
    def auction(self) -> int: ...

weir\._weir\.(Person|Auction|Bid)\.(name|emailAddress|creditCard|city|state|itemName|description|channel|url|extra)$:
    @property
    def \2(self) -> str: ...

weir\._weir\.Person\.person$:
    @property
    def person(self) -> Person: ...

weir\._weir\.Auction\.auction$:
    @property
    def auction(self) -> Auction: ...

weir\._weir\.Bid\.bid$:
    @property
    def bid(self) -> Bid: ...

weir\._weir\.(Auction|Bid)\.person$:
    @property
    def person(self) -> None: ...

weir\._weir\.Person\.auction$:
    @property
    def auction(self) -> None: ...

weir\._weir\.(Person|Auction)\.bid$:
    @property
    def bid(self) -> None: ...
