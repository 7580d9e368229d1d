#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotpctl_devices.sh through wg-activator's wg(8) backend: the server's
# public key for the client config comes from "wg show IF public-key".
ACT_BACKEND=wg
: "${top_srcdir:?}"
export ACT_BACKEND
. "$top_srcdir/tests/integration/wgotpctl_devices.sh"
