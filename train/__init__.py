"""fringescan training: dataset building, augmentation, optimization, evaluation. Imports scanner, never back."""
