"""Problem sets, draw files and loaders."""
