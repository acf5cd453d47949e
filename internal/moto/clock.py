# moto_server with IAM's clock shifted, so keys get real ages and last-use
# dates. moto has no time API: this replaces moto.iam.models.utcnow (key
# creation, last use, the credential report) with the real time plus an
# offset in seconds read on every call from the file MOTO_CLOCK_FILE names,
# so a test moves the clock between requests by rewriting the file.
import datetime
import os
import sys

import moto.iam.models as iam_models
from moto.core.utils import utcnow
from moto.server import main

CLOCK_FILE = os.environ["MOTO_CLOCK_FILE"]


def shifted_utcnow():
    try:
        with open(CLOCK_FILE) as f:
            offset = float(f.read().strip() or 0)
    except FileNotFoundError:
        offset = 0
    return utcnow() + datetime.timedelta(seconds=offset)


iam_models.utcnow = shifted_utcnow
sys.exit(main(sys.argv[1:]))
