//! Plane geometry in normalised image coordinates.
//!
//! Coordinates are fractions of the frame: `x` grows to the right, `y` grows downwards, and both
//! lie in `0..=1` (the same space as a detection's box `[xmin, ymin, xmax, ymax]`).
//!
//! Invariants:
//! - a [`Polygon`] has at least 3 points, every coordinate finite and within `0..=1`, no repeated
//!   consecutive point, its points not all on one line, no two edges that cross or touch (other
//!   than neighbours at their shared corner, and neighbours may not fold back over each other), and
//!   a non-zero area. [`Polygon::new`] and deserialisation are the only ways to build one;
//! - a [`Line`] has two distinct points within `0..=1`.
//!
//! A person's position is the *foot point* of their box, the middle of its bottom edge
//! ([`foot_point`]): zones are drawn on the ground, and the foot point is where a person stands.
//!
//! Point-in-polygon uses the even-odd rule; a point exactly on an edge may count as inside or
//! outside (deterministically for the same input), which does not matter for boxes from a detector.
//!
//! A [`Line`] has two sides. Side A is the side to the left of the line and side B the side to its
//! right, as seen on screen walking from its first point to its second (with `y` growing
//! downwards, "left" is the negative sign of the cross product of `b - a` and `p - a`).

use serde::{Deserialize, Serialize};

use crate::Error;
use roeh_domain::ErrorKind;

/// Cross products at or below this magnitude count as zero (collinear).
const EPS: f64 = 1e-12;

/// A point in normalised image coordinates. Serialised as `[x, y]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Point {
    /// Fraction of the frame's width, from the left.
    pub x: f64,
    /// Fraction of the frame's height, from the top.
    pub y: f64,
}

impl Point {
    /// A point.
    pub fn new(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    fn in_unit_square(self) -> bool {
        self.x.is_finite()
            && self.y.is_finite()
            && (0.0..=1.0).contains(&self.x)
            && (0.0..=1.0).contains(&self.y)
    }
}

impl From<[f64; 2]> for Point {
    fn from(a: [f64; 2]) -> Point {
        Point { x: a[0], y: a[1] }
    }
}

impl From<Point> for [f64; 2] {
    fn from(p: Point) -> [f64; 2] {
        [p.x, p.y]
    }
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {})", self.x, self.y)
    }
}

/// The foot point of a box `[xmin, ymin, xmax, ymax]`: the middle of its bottom edge.
pub fn foot_point(bbox: [f32; 4]) -> Point {
    Point {
        x: (f64::from(bbox[0]) + f64::from(bbox[2])) / 2.0,
        y: f64::from(bbox[3]),
    }
}

/// Intersection over union of two boxes `[xmin, ymin, xmax, ymax]`; 0 when either is empty.
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: [f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// `(b - a) × (c - a)`: positive, negative or (near) zero when `c` is on the line `ab`.
fn cross(a: Point, b: Point, c: Point) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn sign(v: f64) -> i8 {
    if v > EPS {
        1
    } else if v < -EPS {
        -1
    } else {
        0
    }
}

/// Whether `c`, known to be collinear with `a` and `b`, lies within their bounding box.
fn on_segment(a: Point, b: Point, c: Point) -> bool {
    c.x >= a.x.min(b.x) - EPS
        && c.x <= a.x.max(b.x) + EPS
        && c.y >= a.y.min(b.y) - EPS
        && c.y <= a.y.max(b.y) + EPS
}

/// Whether the closed segments `p1 p2` and `q1 q2` share at least one point.
pub fn segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = sign(cross(q1, q2, p1));
    let d2 = sign(cross(q1, q2, p2));
    let d3 = sign(cross(p1, p2, q1));
    let d4 = sign(cross(p1, p2, q2));
    if d1 * d2 < 0 && d3 * d4 < 0 {
        return true;
    }
    (d1 == 0 && on_segment(q1, q2, p1))
        || (d2 == 0 && on_segment(q1, q2, p2))
        || (d3 == 0 && on_segment(p1, p2, q1))
        || (d4 == 0 && on_segment(p1, p2, q2))
}

/// A simple polygon (see the module docs for what is refused). Serialised as `[[x, y], ...]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Point>", into = "Vec<Point>")]
pub struct Polygon {
    points: Vec<Point>,
}

impl Polygon {
    /// Checks and builds a polygon; the error names the problem (and the points involved).
    pub fn new(points: Vec<Point>) -> Result<Polygon, Error> {
        let bad = |why: String| Error::new(ErrorKind::InvalidArgument, format!("polygon {why}"));
        let n = points.len();
        if n < 3 {
            return Err(bad(format!(
                "has {n} point{}; at least 3 are needed",
                if n == 1 { "" } else { "s" }
            )));
        }
        for (i, p) in points.iter().enumerate() {
            if !p.in_unit_square() {
                return Err(bad(format!(
                    "point {i} {p} is outside 0..1 (coordinates are fractions of the frame)"
                )));
            }
        }
        for i in 0..n {
            let j = (i + 1) % n;
            if points[i] == points[j] {
                return Err(bad(format!("point {j} repeats point {i} {}", points[i])));
            }
        }
        let a = points[0];
        if let Some(b) = points.iter().copied().find(|&p| p != a)
            && points.iter().all(|&c| sign(cross(a, b, c)) == 0)
        {
            return Err(bad(format!(
                "is degenerate: all {n} points are collinear (on one line)"
            )));
        }
        let edge = |i: usize| (points[i], points[(i + 1) % n]);
        for i in 0..n {
            for j in i + 1..n {
                let (p1, p2) = edge(i);
                let (q1, q2) = edge(j);
                let adjacent_next = j == i + 1;
                let adjacent_wrap = i == 0 && j == n - 1;
                let crossing = if adjacent_next {
                    // Edges p1-p2 and p2-q2 share p2; they overlap only if q2 folds back onto p1-p2.
                    sign(cross(p1, p2, q2)) == 0 && folds_back(p1, p2, q2)
                } else if adjacent_wrap {
                    // Edges p1-p2 (edge 0) and q1-p1 (last edge) share p1.
                    sign(cross(p1, p2, q1)) == 0 && folds_back(p2, p1, q1)
                } else {
                    segments_intersect(p1, p2, q1, q2)
                };
                if crossing {
                    return Err(bad(format!(
                        "is self-intersecting: edge {i} {p1}-{p2} meets edge {j} {q1}-{q2}"
                    )));
                }
            }
        }
        let area = shoelace(&points).abs();
        if area <= EPS {
            return Err(bad("has zero area".to_owned()));
        }
        Ok(Polygon { points })
    }

    /// The corners, in order (the last connects back to the first).
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The enclosed area, as a fraction of the frame.
    pub fn area(&self) -> f64 {
        shoelace(&self.points).abs()
    }

    /// Whether `p` is inside (even-odd rule; see the module docs about the boundary).
    pub fn contains(&self, p: Point) -> bool {
        let pts = &self.points;
        let mut inside = false;
        let mut j = pts.len() - 1;
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[j]);
            if (a.y > p.y) != (b.y > p.y) {
                let x_at = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if p.x < x_at {
                    inside = !inside;
                }
            }
            j = i;
        }
        inside
    }
}

/// With `a`, `b`, `c` collinear and `b` the shared corner: whether `c` goes back towards `a`.
fn folds_back(a: Point, b: Point, c: Point) -> bool {
    let dot = (a.x - b.x) * (c.x - b.x) + (a.y - b.y) * (c.y - b.y);
    dot > 0.0
}

/// Twice-halved signed area (positive for counter-clockwise in y-up coordinates).
fn shoelace(points: &[Point]) -> f64 {
    let n = points.len();
    let mut s = 0.0;
    for i in 0..n {
        let (a, b) = (points[i], points[(i + 1) % n]);
        s += a.x * b.y - b.x * a.y;
    }
    s / 2.0
}

impl TryFrom<Vec<Point>> for Polygon {
    type Error = Error;
    fn try_from(points: Vec<Point>) -> Result<Polygon, Error> {
        Polygon::new(points)
    }
}

impl From<Polygon> for Vec<Point> {
    fn from(p: Polygon) -> Vec<Point> {
        p.points
    }
}

/// Which crossings of a [`Line`] count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From side A (left of the line, walking from its first point to its second) to side B.
    AToB,
    /// From side B to side A.
    BToA,
    /// Either way.
    Both,
}

impl Direction {
    /// Whether a crossing going `crossing` way counts.
    pub fn admits(self, crossing: Crossing) -> bool {
        match self {
            Direction::Both => true,
            Direction::AToB => crossing == Crossing::AToB,
            Direction::BToA => crossing == Crossing::BToA,
        }
    }
}

/// The way a movement crossed a [`Line`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    /// From side A to side B.
    AToB,
    /// From side B to side A.
    BToA,
}

/// A segment between two distinct points. Serialised as `[[x, y], [x, y]]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "[Point; 2]", into = "[Point; 2]")]
pub struct Line {
    a: Point,
    b: Point,
}

impl Line {
    /// Checks and builds a line: both points within `0..=1` and distinct.
    pub fn new(a: Point, b: Point) -> Result<Line, Error> {
        for (i, p) in [a, b].iter().enumerate() {
            if !p.in_unit_square() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("line point {i} {p} is outside 0..1"),
                ));
            }
        }
        if a == b {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("line has both points at {a}; they must differ"),
            ));
        }
        Ok(Line { a, b })
    }

    /// The first point.
    pub fn a(&self) -> Point {
        self.a
    }

    /// The second point.
    pub fn b(&self) -> Point {
        self.b
    }

    /// `-1` on side A, `1` on side B, `0` on the line (or its extension).
    pub fn side(&self, p: Point) -> i8 {
        sign(cross(self.a, self.b, p))
    }

    /// How a movement from `from` to `to` crossed this segment, if it did: the two points must lie
    /// strictly on opposite sides and the movement must pass through the segment (ends included).
    pub fn crossing(&self, from: Point, to: Point) -> Option<Crossing> {
        let (s0, s1) = (self.side(from), self.side(to));
        if s0 == 0 || s1 == 0 || s0 == s1 {
            return None;
        }
        if !segments_intersect(from, to, self.a, self.b) {
            return None;
        }
        Some(if s0 < 0 {
            Crossing::AToB
        } else {
            Crossing::BToA
        })
    }
}

impl TryFrom<[Point; 2]> for Line {
    type Error = Error;
    fn try_from(p: [Point; 2]) -> Result<Line, Error> {
        Line::new(p[0], p[1])
    }
}

impl From<Line> for [Point; 2] {
    fn from(l: Line) -> [Point; 2] {
        [l.a, l.b]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn poly(pts: &[[f64; 2]]) -> Result<Polygon, Error> {
        Polygon::new(pts.iter().map(|&p| Point::from(p)).collect())
    }

    fn msg(r: Result<Polygon, Error>) -> String {
        r.err().map(|e| e.message().to_owned()).unwrap_or_default()
    }

    #[test]
    fn square_is_accepted_and_contains() {
        let sq = poly(&[[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]).unwrap();
        assert!((sq.area() - 0.36).abs() < 1e-9);
        assert!(sq.contains(Point::new(0.5, 0.5)));
        assert!(!sq.contains(Point::new(0.1, 0.5)));
        assert!(!sq.contains(Point::new(0.5, 0.9)));
        // A concave "L": the notch is outside.
        let l = poly(&[
            [0.0, 0.0],
            [0.5, 0.0],
            [0.5, 0.5],
            [1.0, 0.5],
            [1.0, 1.0],
            [0.0, 1.0],
        ])
        .unwrap();
        assert!(l.contains(Point::new(0.25, 0.25)));
        assert!(!l.contains(Point::new(0.75, 0.25)));
        assert!(l.contains(Point::new(0.75, 0.75)));
    }

    #[test]
    fn refusals_name_the_problem() {
        let m = msg(poly(&[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]));
        assert!(m.contains("self-intersecting"), "{m}");
        assert!(m.contains("edge 0") && m.contains("edge 2"), "{m}");

        let m = msg(poly(&[[0.1, 0.1], [1.2, 0.1], [0.5, 0.9]]));
        assert!(m.contains("point 1 (1.2, 0.1) is outside 0..1"), "{m}");

        let m = msg(poly(&[[0.1, 0.1], [0.5, 0.5]]));
        assert!(m.contains("has 2 points; at least 3"), "{m}");

        let m = msg(poly(&[[0.1, 0.1], [0.3, 0.3], [0.6, 0.6]]));
        assert!(m.contains("collinear"), "{m}");

        let m = msg(poly(&[[0.1, 0.1], [0.1, 0.1], [0.6, 0.6]]));
        assert!(m.contains("repeats"), "{m}");

        let m = msg(poly(&[[0.1, f64::NAN], [0.5, 0.1], [0.6, 0.6]]));
        assert!(m.contains("outside 0..1"), "{m}");
    }

    #[test]
    fn collinear_overlaps_are_self_intersections() {
        // Edges 3 and 4 run back along edge 0.
        let m = msg(poly(&[
            [0.1, 0.1],
            [0.5, 0.1],
            [0.5, 0.5],
            [0.3, 0.1],
            [0.2, 0.1],
        ]));
        assert!(m.contains("self-intersecting"), "{m}");
        // A neighbour folding back over the previous edge.
        let m = msg(poly(&[[0.1, 0.1], [0.6, 0.1], [0.3, 0.1], [0.3, 0.6]]));
        assert!(m.contains("self-intersecting"), "{m}");
        // A vertex touching a non-adjacent edge.
        let m = msg(poly(&[
            [0.1, 0.1],
            [0.9, 0.1],
            [0.5, 0.5],
            [0.5, 0.1],
            [0.3, 0.8],
        ]));
        assert!(m.contains("self-intersecting"), "{m}");
        // A straight run of three points on one side is fine.
        assert!(poly(&[[0.1, 0.1], [0.5, 0.1], [0.9, 0.1], [0.5, 0.8]]).is_ok());
    }

    #[test]
    fn polygon_json() {
        let p: Polygon = serde_json::from_str("[[0.1,0.1],[0.9,0.1],[0.5,0.9]]").unwrap();
        assert_eq!(p.points().len(), 3);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            "[[0.1,0.1],[0.9,0.1],[0.5,0.9]]"
        );
        let e = serde_json::from_str::<Polygon>("[[0.1,0.1],[0.9,0.1]]").unwrap_err();
        assert!(e.to_string().contains("at least 3"), "{e}");
    }

    #[test]
    fn line_sides_and_crossings() {
        // A vertical line, drawn top to bottom: on screen, its left (side A) is x > 0.5.
        let l = Line::new(Point::new(0.5, 0.1), Point::new(0.5, 0.9)).unwrap();
        assert_eq!(l.side(Point::new(0.7, 0.5)), -1);
        assert_eq!(l.side(Point::new(0.3, 0.5)), 1);
        assert_eq!(
            l.crossing(Point::new(0.7, 0.5), Point::new(0.3, 0.5)),
            Some(Crossing::AToB)
        );
        assert_eq!(
            l.crossing(Point::new(0.3, 0.5), Point::new(0.7, 0.5)),
            Some(Crossing::BToA)
        );
        // Passing beside the segment, beyond its end, is no crossing.
        assert_eq!(
            l.crossing(Point::new(0.3, 0.95), Point::new(0.7, 0.95)),
            None
        );
        // Touching the line is no crossing.
        assert_eq!(l.crossing(Point::new(0.3, 0.5), Point::new(0.5, 0.5)), None);
        assert!(Direction::AToB.admits(Crossing::AToB));
        assert!(!Direction::AToB.admits(Crossing::BToA));
        assert!(Direction::Both.admits(Crossing::BToA));
        assert!(Line::new(Point::new(0.5, 0.5), Point::new(0.5, 0.5)).is_err());
        assert!(Line::new(Point::new(0.5, 0.5), Point::new(0.5, 1.5)).is_err());
    }

    #[test]
    fn iou_and_foot() {
        assert!((iou([0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5]) - 1.0).abs() < 1e-6);
        assert_eq!(iou([0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7]), 0.0);
        let v = iou([0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2]);
        assert!((v - 1.0 / 3.0).abs() < 1e-5, "{v}");
        let f = foot_point([0.2, 0.1, 0.4, 0.9]);
        assert!((f.x - 0.3).abs() < 1e-6 && (f.y - 0.9).abs() < 1e-6, "{f}");
    }
}
