"""Microsoft 365 / Exchange Online and Outlook.com: "Your message to X couldn't be delivered"."""
import re

from classifier.parse import ndr
from classifier.parse.mta import header_matcher, simple

DIALECT = ndr.Dialect(
    start=None,
    stop=re.compile(r"^Original message headers:|^Original Message Headers|^-{3,} ?Original message", re.I | re.M),
    recipient=re.compile(
        r"(?:^[ \t]*<?(?P<addr>[^\s<>@]+@[^\s<>()]+?)>?[ \t]*(?:$|\(|<)|"
        r"(?:message to|delivered to|delivery to) <?(?P<addr2>[^\s<>@]+@[^\s<>]+?)>?(?:\s|$|,))",
        re.I | re.M),
    delayed=re.compile(r"Delivery has been delayed|hasn't been delivered yet|will continue to try|"
                       r"Delivery is delayed", re.I),
)

MODULE = simple(
    "office365",
    header_matcher(headers=("X-MS-Exchange-Message-Is-Ndr", "X-MS-Exchange-CrossTenant-Id"),
                   from_=r"@(?:[\w-]+\.)*(?:onmicrosoft\.com|outlook\.com|hotmail\.com|live\.com|office365\.com|"
                         r"protection\.outlook\.com|prod\.outlook\.com)",
                   body=r"Diagnostic information for administrators|couldn't be delivered to|"
                        r"wasn't delivered to|Office 365|Microsoft 365"),
    DIALECT,
)
