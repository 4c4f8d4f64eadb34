# Copyright 2026 The MoNE Plugin Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The sections of docs/results.md, one module per section in page order.

Each `s<n>_<topic>.section(results, plots)` returns its Markdown lines and
draws its plots through `figures`; `summary` writes the bullets and the
targets table at the top of the page; `markdown` holds the pieces they share.
Their arithmetic (means over seeds, gaps, curves at equal FLOPs) is
`experiments.results.arithmetic`.
"""
