"""Every tuning knob of the photo pipeline, in one frozen dataclass.

Sizes are fractions of the image or multiples of the measured stroke width wherever
possible, so the same defaults serve a 640x480 webcam frame and a 4000x3000 phone photo.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

THRESHOLD_METHODS = ("otsu", "adaptive", "fixed")


@dataclass(frozen=True)
class PreprocessConfig:
    # --- scale -------------------------------------------------------------------------
    max_side: int = 1600  # larger photos are shrunk to this long side first; digits stay >15 px in phone shots
    ink_pool: float = (
        0.0  # ...keeping the darkest pixel of spans this fraction of the shrink factor (0: off, see BENCHMARKS)
    )
    zoom_below: float = 10.0  # writing whose pieces are narrower than this (px, working scale) is read again finer...
    zoom_target: float = 20.0  # ...at the scale that makes them this wide...
    zoom_max_pixels: float = 12e6  # ...reading at most this many pixels (bounded time on a 24 MP photo)
    # --- illumination ------------------------------------------------------------------
    background_side: int = 128  # the background (paper/board) is estimated on a copy this short side...
    background_kernel: float = 0.16  # ...with a closing this fraction of it: wider than any pen stroke
    # --- polarity ----------------------------------------------------------------------
    polarity_side: int = 192  # polarity is judged on a copy this short side (small digits keep their strokes)
    polarity_margin: float = 2.0  # the thin-phase cue decides when one side outweighs the other this many times
    invert: bool | None = None  # None: detect; True: dark ink on light paper (invert it); False: already light on dark
    # --- surface (the sheet, note or board; what lies beyond it is never ink) ---------------
    find_surface: bool = True  # read only inside the surface when one is found
    surface_min_side: int = 300  # images with a shorter side (tight crops) are all surface
    surface_side: int = 160  # the surface is found on a copy this long side
    surface_close: float = 0.04  # ...after a closing this fraction of its short side takes the writing away
    surface_min_area: float = 0.08  # a surface covers at least this fraction of the frame...
    surface_max_area: float = 0.93  # ...and at most this (beyond, the page fills the frame: no desk to cut)
    surface_min_width: float = 0.3  # ...is at least this fraction of the frame's short side across
    surface_max_corners: int = 8  # ...has straight sides: at most this many corners (a thick digit is round)...
    surface_straightness: float = 0.02  # ...when its outline is simplified to this fraction of its perimeter
    surface_rect_fill: float = 0.7  # ...fills this much of its smallest enclosing rectangle (an oval blot does not)...
    surface_solidity: float = 0.65  # ...fills this much of its convex hull (a sheet, not lit patches)
    surface_contrast: float = 0.08  # ...and is this much brighter than its surroundings (0..1 grey)...
    surface_lit_level: float = 0.8  # ...of a sheet this bright; a dimmer sheet's step is asked in proportion (0: off)
    surface_edge_band: float = (
        0.02  # ...right across its edge, in bands this fraction of the short side (a step, not a slope)
    )
    board_max_level: float = 0.5  # a dark surface (a blackboard) is darker than this grey level (0..1)
    surface_texture: float = 3.0  # weight of local texture (grey-level sigma) against brightness: paper is smooth
    surface_levels: int = 8  # brightness levels tried for the sheet's edge (the sharpest step wins)
    #: when no sheet stands out by brightness (a grey sheet on a desk as bright, a lamp's band
    #: across both), a sheet whose whole outline is an edge: the region enclosed by edges
    #: (on a copy `surface_edge_side` px long) that is a convex quadrilateral inside the frame
    surface_edges: bool = True
    surface_edge_side: int = 320
    surface_edge_cover: float = 0.85  # ...and this fraction of its sides lies on edges found
    surface_margin: float = 0.015  # this fraction of the short side is taken off its edge (the border, its shadow)
    # --- colour -----------------------------------------------------------------------------
    colour_ink: bool = (
        True  # read the colour channel where the ink stands out most (pale blue ballpoint, coloured notes)
    )
    colour_gain: float = 1.3  # ...only when it beats plain grey's contrast by this factor
    colour_min_chroma: float = 0.04  # images whose colours differ less than this (0..1) are grey: no look
    colour_samples: int = 10000  # pixels sampled to judge the channels
    # --- orientation (Reader with rotate="auto") ----------------------------------------
    orientation_geometry: float = (
        0.3  # weight of the geometry cue (digits taller than wide, side by side) vs confidence
    )
    orientation_prior: float = 0.05  # bonus for the image as given: a photo is usually upright
    orientation_bar: float = 0.45  # a box narrower than this for its height is a bar: a 1 one way up, a dash turned
    #   by 90 degrees, so it says nothing about the orientation (rules, edges, shadows; unless all boxes are bars)
    orientation_min_conf: float = 0.5  # a turn is taken only if its crops read as digits this surely on average...
    orientation_min_sure: int = 3  # ...or, on a page crowded with marks, if at least this many read surely...
    orientation_sure: float = 0.9  # ...(as a digit at this probability or more)...
    orientation_sure_ratio: float = 2.0  # ...and this many times as many as the photo as given
    orientation_sure_lead: float = 1.25  # ...and as any other turn (printed text reads alike every turn)
    upright_evidence: float = 0.5  # geometry this clearly upright skips the sideways pass (cost: one preprocessing)...
    upright_share: float = 0.9  # ...when at least this share of its voting crops reads as a digit (p >= 0.5)
    orientation_flip_margin: float = 1.2  # nats of weighed readings that settle a turn against its opposite (~3:1)
    orientation_flip_sure: float = 6.0  # nats beyond which the photo as given is upside down whatever the mean
    #   confidence (a crowded page of small digits reads unsurely either way up; 0: off)...
    orientation_flip_conf: float = 0.3  # ...if turned over its crops read as digits this surely on average
    #   (printed letters, read as no digit either way up, do not)
    orientation_turn_weight: float = 1.0  # weight of the turn model's nats (a crop's hand upright or turned over)
    #   in that evidence (0: the recogniser's table alone, and the turn model is not loaded)
    turned_smoothing: float = 0.01  # mixed into the model's turned-digit table: no reading is impossible
    # --- threshold ---------------------------------------------------------------------
    threshold: str = "otsu"  # 'otsu' on the flattened image, 'adaptive' (local mean), 'fixed' (classic 127)
    min_contrast: float = 0.18  # ink must be at least 18% darker than its local paper: blank pages stay blank
    quiet_contrast: float = 0.11  # ...or this much on quiet paper (0: never), where the paper's ink field...
    quiet_quantile: float = 90.0  # ...at this percentile...
    quiet_factor: float = 3.0  # ...times this stays under the floor (pale ballpoint on clean paper)
    quiet_stride: int = 5  # the percentile is taken over every this-many-th voting pixel (time)
    adaptive_block: float = 0.05  # adaptive window as a fraction of the short side
    hysteresis: float = 0.0  # ink down to this fraction of the floor joins a stroke clearing it (0: off; 0.5 neutral)
    hysteresis_gain: float = 8.0  # ...unless that grows the stroke's piece past this many times its strong pixels
    hysteresis_ridge: float = 0.6  # ...through pixels this close to their strongest neighbour (a ridge, not a halo)
    hysteresis_reach: float = 2.0  # ...within this many stroke widths of it (not along a faint rule to the next digit)
    noise_factor: float = 3.0  # ...and this many times the image's estimated noise sigma above it
    max_ink_fraction: float = 0.35  # more of the image than this over threshold is noise or texture, not writing
    fixed_level: int = 127  # the tutorial's global threshold, for method 'fixed'
    # --- clutter -----------------------------------------------------------------------
    remove_rules: bool = True  # take away ruled/squared paper lines and page borders
    rule_remnants: bool = True  # pieces of the mask lying wholly on a found rule are the rule's own, not pen
    rules_on_surface: bool = True  # on a page found, rules are also looked for in its box: there a family of
    #   parallel lines spanning rule_page_length of the page's side is ruling however small the page is in the
    #   photo; lone upright lines are still measured against the photo (a big 1 on a small note is no rule)
    rule_page_length: float = 0.5
    rule_contrast: float = 0.07  # rules are traced where ink is this strong: faint print stays continuous
    rule_min_length: float = 0.3  # a rule spans at least this fraction of the image's longer side...
    rule_alone_length: float = 0.8  # ...and, unless it has parallel neighbours, this fraction of its own direction
    rule_cross_length: float = (
        0.9  # parallel lines crossing this much of the image are rules at any length (form boxes)
    )
    rule_max_thickness: float = 0.012  # ...and is at most this fraction of the image's longer side thick, +2 px
    rule_ink_ratio: float = 1.6  # rule pixels up to this multiple of the rules' median ink are rule, darker is pen
    tilted_rules: bool = True  # also trace long thin lines at any angle (rules under perspective, slanted page edges)
    rule_hough_side: int = 800  # ...on a copy at most this long side (bounded cost on big photos)
    rule_max_cover: float = 0.2  # ...unless faint marks cover more than this of the image (texture, noise)
    max_rules: int = 400  # ...looking at no more than this many segments
    rule_family: int = 3  # ...and only at lines with this many parallel neighbours (a pen stroke stands alone)
    rule_edge_to_edge: bool = True  # a rule's line runs on to the frame's edges: what lies wholly on it past a
    #   break is the rule's (remove_rules), and a tilted line whose segments cover rule_alone_length of its way
    #   from edge to edge is a rule even alone (a close-up's one rule); lines must be thin beside them too
    border_run: float = 0.5  # a region lying along the border for this fraction of its extent...
    border_min_side: float = 0.2  # ...and for this fraction of the image side is desk or page edge, not ink
    object_thickness: float = 0.03  # a solid region this thick (fraction of the short side) is an object...
    object_fill: float = 0.6  # ...when it fills this much of its smallest rotated rectangle (a pen, a desk strip)
    object_disc: float = 0.75  # a solid blob this round (short side over long) and `min_height_px` across or more
    #   is an object too, however small against the frame: a punched hole (0: off)
    object_revote: float = 0.01  # objects and border runs (and this fraction of the short side around them) do
    #   not vote for Otsu's ink level: it is found again without them (0: off)...
    object_vote: float = 0.5  # ...when they are this share of the ink at least (fewer hardly move the level)...
    object_gain: float = 1.5  # ...and kept when it finds this many times the marks apart from them...
    object_share: float = 0.05  # ...and marks of at least this fraction of the objects' area (not rule specks)
    # --- morphology --------------------------------------------------------------------
    open_above_stroke: float = 4.0  # open (erode+dilate) away specks only when strokes are at least this wide (px)
    close_stroke_frac: float = 0.5  # close gaps up to this multiple of the stroke width (broken strokes)
    # --- lines drawn under the writing (underline) ----------------------------------------
    underline_length: float = 1.5  # a level run this many times longer than its piece is tall is a line drawn
    #   under or through the writing (an underline, a sum's bar, a strip's one rule), not a digit's stroke (0: off)
    underline_min_strokes: float = 12.0  # ...and at least this many pen widths long...
    underline_thickness: float = 2.0  # ...and no thicker than this many pen widths...
    underline_height: float = 3.0  # ...in a piece this many times taller than the line is thick (digits hang on it)
    underline_writing: float = 2.0  # ...and this many times the writing's size (its pieces' typical smaller side)
    underline_along: float = 0.5  # where the cut band is this many pen widths (and a pixel) thicker than the
    #   line itself, writing runs along the line (the foot of a 2 drawn on it): that stays, if it meets the writing
    #   (0: off)
    underline_slopes: int = 3  # lines sloping beyond a level run's slack: this many families of them (longest
    #   first) are turned level and cut by the same rules; 0: level lines only
    # --- segmentation ------------------------------------------------------------------
    min_height_px: int = 8  # nothing shorter than this (at working scale) is a digit
    min_height_frac: float = 0.35  # ...nor shorter than this fraction of the median digit height
    max_height_ratio: float = 3.0  # ...nor taller than this many median digit heights (an edge, a stray stroke)
    small_writing: int = 6  # when at least this many digit-shaped pieces (and 3x those kept) are too small
    #   for the digit height found, that height was set by an object (a pen, a sheet's edge): the small
    #   pieces are the writing, read at their own height (0: never)...
    small_objects: int = 2  # ...beside at most this many pieces of the height found (a pen, an edge)...
    small_alike: float = 2.0  # ...when alike in height (upper quartile within this many times the lower)...
    small_ink: float = 0.2  # ...and together carrying this share of the ink of the pieces that height keeps
    max_height_frac: float = 0.95  # a blob taller than this fraction of the image is the page edge or a shadow
    min_ink_ratio: float = 0.025  # ink pixels / box area: below is a thin curve or frame, not a digit...
    min_ink_strokes: float = 1.0  # ...or, if lower, this many pen widths / box side (a thin brush; a 7 has ~2)
    max_ink_ratio: float = 0.92  # above is a solid blob (a blot, a dark object), not a stroke
    max_blob: float = (
        0.9  # stroke width / box's long side above this is a dot or a solid blob (0.7 lost small thick-pen digits)
    )
    min_relative_ink: float = 0.5  # a mark whose ink is below this fraction of the writing's is a shadow or smudge
    solid_fill: float = 0.8  # ...where marks as thick as this much of their short side (a hole, a dot; 0: off)...
    solid_round: float = 0.4  # ...whose short side is this much of their long one (not a 1's bar) set no level
    edge_sliver: float = 0.2  # a mark touching the frame and thinner than this many digit heights is an edge
    max_aspect: float = 4.0  # width/height above this is a dash or a line
    merge_gap: float = 0.3  # fragments one above the other merge across a gap up to this fraction of height
    merge_overlap: float = 0.4  # ...when they overlap horizontally by this fraction of the narrower
    merge_max_width: float = 1.3  # ...and the union is at most this many digit heights wide (not a leftover rule)
    split_width: float = 1.5  # a box this many median widths wide...
    split_aspect: float = 1.4  # ...and this many times wider than tall may be touching digits...
    max_split: int = 6  # ...of at most this many (each count near the width's guess is proposed)...
    split_gain: float = 0.0  # ...and is read as pieces when the least sure piece beats the whole by this confidence...
    split_min_conf: float = (
        0.9  # ...and is itself at least this sure (a rule fused with a 1, or a word, is no row of digits)
    )
    pair_aspect: float = 0.8  # a box at least this wide for its height (and `pair_width` typical widths) that would
    #   not be read as a whole (a mark, or a digit under --conf) is also tried as two touching digits (0: never)
    pair_width: float = 0.8
    seam_gain: float = 0.5  # touching digits are cut along the path of least ink, which may curve round a
    #   stroke leaning over its neighbour, where it crosses under this share of the straight cut's ink (0: straight
    #   down the column of least ink, always)
    level_skew: float = 8.0  # text lines sloping by at least this many degrees are turned level and segmented
    #   again, so digits reach the recogniser upright and the pieces of one digit stack (0: never)
    line_tolerance: float = 0.5  # a digit continues a text line when it sits at most this many digit heights off it
    block_gap: float = 2.5  # a gap wider than this many digit heights (and 3x the usual spacing) starts a new block
    max_pieces: int = 2000  # at most this many connected pieces are considered (bounded time on textures)
    max_digits: int = 200  # never hand more crops than this to the classifier per image
    # --- normalisation -----------------------------------------------------------------
    stroke_target: float = 2.4  # MNIST's stroke width in the 28x28 frame (px), matched before resizing
    stroke_tolerance: float = (
        2.5  # ...only when off by more than this factor: the augmented model copes with less (ablation)
    )
    grey_crops: bool = True  # crops from the ink strength (anti-aliased edges kept) instead of the binary mask
    deskew: bool = False  # MNIST was not deskewed; turn on for strongly slanted handwriting

    def __post_init__(self) -> None:
        if self.threshold not in THRESHOLD_METHODS:
            raise ValueError(f"threshold must be one of {THRESHOLD_METHODS}, got {self.threshold!r}")
        if self.max_side < 64:
            raise ValueError("max_side must be at least 64")
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not v >= 0:
                raise ValueError(f"{f.name} must be a non-negative number, got {v}")

    def with_(self, **changes: Any) -> PreprocessConfig:
        return replace(self, **changes)
