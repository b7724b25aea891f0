"""McAfee SaaS / MX Logic: Exim-shaped NDRs from *.mxlogic.net relays."""
from classifier.parse.mta import exim, header_matcher, simple

MODULE = simple("mxlogic", header_matcher(from_=r"@(?:[\w-]+\.)*(?:mxlogic\.net|mxl\d*\.[\w.-]+)",
                                          headers=("X-MXL-Hash", "X-MX-Bounce"), received=r"\(mxl_mta-"),
                exim.DIALECT)
