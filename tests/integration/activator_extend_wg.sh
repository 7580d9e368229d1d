#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The extend-in-place test through the wg(8) backend.
ACT_BACKEND=wg
export ACT_BACKEND
. "$top_srcdir/tests/integration/activator_extend.sh"
