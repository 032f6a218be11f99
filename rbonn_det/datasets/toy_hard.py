"""The hard toy set: what a 1-bit detector finds difficult, at toy scale.

Unlike the easy set (one base colour per class, so colour alone classifies it):

- colour is drawn independently of the class (only a minimum contrast against the
  background under the object is kept, so every object stays visible);
- 7 shape classes in look-alike groups: circle / ring / hexagon, square / cross,
  triangle / star;
- cluttered backgrounds: the easy set's textured gradient plus stripes and
  unlabelled distractors (line segments, arcs, small irregular blobs);
- partial occlusion: objects may overlap and later ones are drawn over earlier ones,
  as long as each keeps at least ``MIN_VISIBLE`` of its pixels;
- object sizes (longer box side) log-uniform from ~12 px to half the shorter image side.

Same guarantees as the easy set: image i of split s depends only on (seed, s, i),
byte-reproducible, written atomically in VOC and COCO layouts by
:func:`rbonn_det.datasets.toy_shapes.make_toy_dataset` (``variant='hard'``). Boxes
are the full (amodal) extent of each shape, as VOC/COCO annotate occluded objects.
"""
import io
from typing import List, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .toy_shapes import SPLITS, _background

HARD_CLASSES = ('circle', 'ring', 'hexagon', 'square', 'cross', 'triangle', 'star')
MIN_VISIBLE = 0.5  # fraction of an object's own pixels that must stay visible
MIN_SIDE, MAX_SIDE_FRACTION = 12, 0.5


def _regular(n: int, bw: float, bh: float, phase: float = -np.pi / 2) -> np.ndarray:
    ang = phase + np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(ang) * bw, np.sin(ang) * bh], 1)


def _outline(label: int, bw: float, bh: float) -> np.ndarray:
    """Outer polygon of a shape centred at 0 with half sizes (bw, bh)."""
    name = HARD_CLASSES[label]
    if name in ('circle', 'ring'):
        return _regular(48, bw, bh)
    if name == 'hexagon':
        return _regular(6, bw, bh, phase=0.0)
    if name == 'square':
        return np.array([[-bw, -bh], [bw, -bh], [bw, bh], [-bw, bh]])
    if name == 'cross':  # a plus sign, arms a third of the size wide
        a, b = bw / 3, bh / 3
        return np.array([[-a, -bh], [a, -bh], [a, -b], [bw, -b], [bw, b], [a, b], [a, bh],
                         [-a, bh], [-a, b], [-bw, b], [-bw, -b], [-a, -b]])
    if name == 'triangle':
        return np.array([[0, -bh], [bw, bh], [-bw, bh]])
    rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)  # five-pointed star
    return _regular(10, bw, bh) * rad[:, None]


def _place(pts: np.ndarray, cx: float, cy: float, rot: float) -> np.ndarray:
    c, s = np.cos(rot), np.sin(rot)
    return pts @ np.array([[c, s], [-s, c]]) + np.array([cx, cy])


def _mask(w: int, h: int, outer: np.ndarray, inner) -> np.ndarray:
    """Boolean mask of the shape (a ring is the outer disc minus the inner one)."""
    m = Image.new('L', (w, h), 0)
    d = ImageDraw.Draw(m)
    d.polygon([tuple(p) for p in outer.tolist()], fill=1)
    if inner is not None:
        d.polygon([tuple(p) for p in inner.tolist()], fill=0)
    return np.asarray(m, dtype=bool)


def _clutter(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Stripes and unlabelled distractors drawn onto the background."""
    h, w = img.shape[:2]
    if rng.random() < 0.6:  # faint stripes
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang, period = rng.uniform(0, np.pi), rng.uniform(6, 24)
        wave = np.sin((xx * np.cos(ang) + yy * np.sin(ang)) * 2 * np.pi / period)
        img = np.clip(img + wave[..., None] * rng.uniform(8, 25), 0, 255).astype(np.uint8)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(4, 12))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(3)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 0:  # line segment
            draw.line([x, y, x + rng.uniform(-60, 60), y + rng.uniform(-60, 60)], fill=colour,
                      width=int(rng.integers(1, 4)))
        elif kind == 1:  # open arc
            r = rng.uniform(6, 30)
            start = rng.uniform(0, 360)
            draw.arc([x - r, y - r, x + r, y + r], start, start + rng.uniform(60, 200),
                     fill=colour, width=int(rng.integers(1, 4)))
        else:  # small irregular blob (no class's outline)
            n = int(rng.integers(5, 9))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            rad = rng.uniform(2, 9, n)
            pts = np.stack([x + np.cos(ang) * rad, y + np.sin(ang) * rad], 1)
            draw.polygon([tuple(p) for p in pts.tolist()], fill=colour)
    return np.asarray(pil).copy()


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour at least 80 (L2, RGB) away from the mean colour under the object."""
    mean = under.reshape(-1, 3).mean(0) if under.size else np.full(3, 128.0)
    for _ in range(50):
        colour = rng.integers(0, 256, 3)
        if np.linalg.norm(colour - mean) >= 80:
            return colour
    return np.where(mean > 127, 0, 255)  # the opposite corner of the RGB cube


def render_hard_image(seed: int, split: str, index: int) -> Tuple[bytes, int, int, List[dict]]:
    """Render one image of the hard set.

    Returns:
        tuple: (jpeg bytes, width, height, objects), objects as
        ``dict(label=int, bbox=[x1, y1, x2, y2])`` (integer pixels, x2/y2 exclusive).
    """
    rng = np.random.default_rng([seed, SPLITS[split], index, 7])  # 7: not the easy set's stream
    w, h = (int(v) for v in rng.integers(224, 289, size=2))
    img = _clutter(rng, _background(rng, w, h))
    owner = np.full((h, w), -1, dtype=np.int32)  # which object each pixel shows
    areas: List[int] = []
    objects: List[dict] = []
    max_side = MAX_SIDE_FRACTION * min(w, h)
    for _ in range(int(rng.integers(2, 9))):
        for _attempt in range(30):
            label = int(rng.integers(len(HARD_CLASSES)))
            side = float(np.exp(rng.uniform(np.log(MIN_SIDE), np.log(max_side))))
            aspect = rng.uniform(0.75, 1.33)
            bw, bh = side / 2 * min(1.0, aspect), side / 2 * min(1.0, 1 / aspect)
            rot = rng.uniform(-0.3, 0.3)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            outer = _place(_outline(label, bw, bh), cx, cy, rot)
            x1, y1 = np.floor(outer.min(0)).astype(int)
            x2, y2 = np.ceil(outer.max(0)).astype(int) + 1
            if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
                continue  # every object's box lies inside the image
            inner = None
            if HARD_CLASSES[label] == 'ring':
                inner = _place(_regular(48, bw * 0.55, bh * 0.55), cx, cy, rot)
            mask = _mask(w, h, outer, inner)
            own = int(mask.sum())
            if own < 20:
                continue
            covered = np.bincount(owner[mask][owner[mask] >= 0], minlength=len(objects))
            still = [(owner == k).sum() - covered[k] for k in range(len(objects))]
            if any(s < MIN_VISIBLE * a for s, a in zip(still, areas)):
                continue  # would hide too much of an earlier object
            colour = _contrasting_colour(rng, img[mask])
            img[mask] = colour
            if rng.random() < 0.4:  # a dark outline on some objects
                edge = mask & ~_erode(mask)
                img[edge] = (20, 20, 20)
            owner[mask] = len(objects)
            areas.append(own)
            objects.append(dict(label=label, bbox=[int(x1), int(y1), int(x2), int(y2)]))
            break
    if not objects:  # pathological placement: one mid-sized centred hexagon
        outer = _place(_outline(2, 20, 20), w / 2, h / 2, 0.0)
        img[_mask(w, h, outer, None)] = (250, 250, 250)
        x1, y1 = np.floor(outer.min(0)).astype(int)
        x2, y2 = np.ceil(outer.max(0)).astype(int) + 1
        objects.append(dict(label=2, bbox=[int(x1), int(y1), int(x2), int(y2)]))
    img = np.clip(img.astype(np.float32) + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format='JPEG', quality=92)
    return buf.getvalue(), w, h, objects


def _erode(mask: np.ndarray) -> np.ndarray:
    """One-pixel binary erosion (4-neighbourhood), edges count as outside."""
    m = np.pad(mask, 1, constant_values=False)
    return m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
