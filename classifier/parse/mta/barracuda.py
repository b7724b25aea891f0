"""Barracuda Email Security Gateway / Service: "Your message could not be delivered"."""
from classifier.parse.mta import header_matcher, simple

MODULE = simple("barracuda", header_matcher(from_=r"barracuda|@(?:[\w-]+\.)*barracudanetworks\.com",
                                            headers=("X-Barracuda-Connect", "X-Barracuda-Envelope-From"),
                                            received=r"barracuda"))
