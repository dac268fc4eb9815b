"""Recovery drills: prove the golden-image rebuild works, and how long it takes (box 8)."""
