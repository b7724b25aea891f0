"""Microsoft Exchange Server (5.5 to 2019 on premises): "did not reach the following recipient(s)"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

MODULE = simple(
    "exchange",
    header_matcher(subject=r"^(?:Undeliverable|Non remis|Unzustellbar|Onbestelbaar|Não entregue|"
                           r"No se puede entregar|Impossibile recapitare|Nedoručitelné):?",
                   headers=("X-MS-Exchange-Organization-SCL", "X-MS-TNEF-Correlator", "X-MS-Exchange-Organization-AuthAs"),
                   body=r"did not reach the following recipient|Delivery has failed to these recipients|"
                        r"could not be reached|MSEXCH:"),
    ndr.Dialect(
        start=re.compile(r"did not reach the following recipient\(s\):|following recipient\(s\) could not be reached:|"
                         r"Delivery has failed to these recipients or (?:groups|distribution lists):", re.I),
        recipient=re.compile(r"^[ \t]*<?(?P<addr>[^\s<>@]+@[^\s<>]+?)>?(?:[ \t]+on[ \t]|[ \t]*$|[ \t]*\()", re.M),
        stop=re.compile(r"^Original message headers:|^_{5,}\s*$|^-{3,} ?Original message", re.I | re.M),
    ),
)
