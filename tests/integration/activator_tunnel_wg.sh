#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The tunnel test through the wg(8) backend (the kernel path; wg speaks to
# wireguard-go through the same UAPI socket here).
ACT_BACKEND=wg
export ACT_BACKEND
. "$top_srcdir/tests/integration/activator_tunnel.sh"
