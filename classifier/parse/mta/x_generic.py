"""Any other NDR that looks like one: sent by a mailer daemon or with a bounce-like subject."""
from classifier.parse import freetext, ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module
from classifier.parse.signals import looks_like_bounce


def extract(msg: Loaded, ctx: Context):
    return ndr.scan(ctx.text, exclude=ctx.exclude) or freetext.failed_records(ctx.text, ctx.exclude, ctx.settle)


MODULE = Module("generic", looks_like_bounce, extract)
