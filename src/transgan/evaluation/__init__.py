"""Scoring generators: IS/FID/KID/FD-DINOv2 through torch-fidelity, the offline digits
metrics, FID reference statistics, images from any source, and the curves of a run."""
