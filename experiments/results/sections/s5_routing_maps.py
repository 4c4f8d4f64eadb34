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

"""Section 5: routing maps of images and of video clips."""

from experiments.results import figures
from experiments.results import loading
from experiments.results import plan as plan_lib
from experiments.results.sections import markdown as md


def section(results, plots):
  """Test images and clips tinted by expert; what the router prefers."""
  out = ["## 5. Routing maps", ""]
  runs = results.bv
  shown = [(f"ec{e:g}_s0", e, "learned") for e in (0.2, 0.3, 0.4)] + [
      (f"random_ec{e:g}_s0", e, "random") for e in plan_lib.RANDOM_ROUTER_E_C]
  shown = [s + (runs.routing(s[0]),) for s in shown if runs.get(s[0])]
  shown = [s[:3] for s in shown if s[3] is not None and
           f"experts_{s[1]:g}" in s[3]]
  stats = []
  if shown:
    rows = []
    for name, e_c, router in shown:
      z = runs.routing(name)
      images, experts = z["images"], z[f"experts_{e_c:g}"]
      patch = tuple(int(p) for p in z["patch_size"])
      grid = (images.shape[1] // patch[0], images.shape[2] // patch[1])
      rows.append((f"{router} router, e_c {e_c:g}", images[:8],
                   experts[:8].reshape(-1, *grid)))
      stats.append((name, router, e_c) + loading.routing_stats(
          images, experts, patch))
    figures.routing_maps_images(plots, rows)
    out += ["Test images (the first 8 of the test split) with each 4x4 patch "
            "token tinted by its expert (legend: expert widths, D/8 the "
            "smallest, D the full model; the trainers draw the same "
            "palette, `mone_plugin/viz.py`).", "",
            md.img(plots[-1], "image routing maps"), "",
            "| run | router | e_c | object tokens on the 2 largest experts | "
            "background tokens on them | object share of tokens |",
            "|---|---|---|---|---|---|"]
    for name, router, e_c, obj, bg, frac in stats:
      out.append(f"| {name} | {router} | {e_c:g} | {100 * obj:.1f}% | "
                 f"{100 * bg:.1f}% | {100 * frac:.0f}% |")
    out.append("")
    learned = [s for s in stats if s[1] == "learned"]
    random = [s for s in stats if s[1] == "random"]
    if learned:
      prefers = [s for s in learned if s[3] > 2 * s[4] + 0.05]
      weaker = [s for s in learned if s not in prefers and s[3] > s[4] + 0.05]
      others = [s for s in learned if s not in prefers and s not in weaker]

      def runs_text(group):
        return ", ".join(f"e_c {s[2]:g} ({100 * s[3]:.0f}% of object tokens "
                         f"vs {100 * s[4]:.0f}% of background tokens)"
                         for s in group)
      text = "What the router learned (16 test images per run): "
      if prefers:
        text += ("it sends the garment's tokens to the two largest experts "
                 "and the black background to the small ones at "
                 + runs_text(prefers))
      if weaker:
        text += ("; " if prefers else "") + (
            "the same preference, weaker, at " + runs_text(weaker))
      if others:
        text += ("; " if prefers or weaker else "") + (
            "no such preference (or the reverse) at " + runs_text(others))
      if random:
        text += ("; the random router, for comparison: " + runs_text(random))
      out += [text + ".", ""]
  # The video maps of the most accurate MoNE video run.
  z, run, best = None, None, -1.0
  for e_c in plan_lib.VIDEO_E_C:
    if e_c is None:
      continue
    name = f"video_ec{e_c:g}"
    acc = loading.scenic_metric(results.scenic_eval(name), "accuracy", e_c)
    found = results.routing(name)
    if found is not None and (acc or 0.0) > best:
      z, run, best = found, name, acc or 0.0
  maps = z is not None
  if maps:
    mov, still, bg = loading.video_stats(z["inputs"], z["experts"])
    dst = figures.routing_maps_video(plots, z["inputs"], z["experts"])
    out += [f"Video ({run}, the most accurate MoNE video run; test clips, "
            "one row per clip, one column per "
            "tubelet of 2 frames, colours as above):", "",
            md.img(dst, "video routing maps"), "",
            f"Tokens on the two largest experts: {md.pct(mov)}% of the tokens "
            f"whose content moves between the tubelet's two frames, "
            f"{md.pct(still)}% of still garment tokens and {md.pct(bg)}% of the "
            "background. " + (
                "The router prefers moving content over still content." if
                mov > still + 0.05 else
                "The router does not prefer moving content over still "
                "garment content here." if mov <= still else
                "Moving and still garment tokens are treated alike.") + (
                    " Background gets the small experts." if bg < min(
                        mov, still) else ""), ""]
  if not shown and not maps:
    return out + ["Not run yet: no routed run with saved maps has finished "
                  "(the image maps come from the seed-0 MoNE and random-router"
                  " runs, the video map from the MoNE video runs).", ""]
  out += ["*Regenerate:* `make results`. The image maps come from the runs "
          f"{', '.join(s[0] for s in shown) or '(none)'} (seed 0; "
          "`experiments/results/bv_worker.py` saves their test images and "
          "experts, kept beside their summaries as `<run>.routing.npz`), the "
          "video map from the last evaluation of the MoNE video run (Scenic's "
          "trainer writes `routing_maps/` in its workdir); no extra run "
          "time.", ""]
  return out
