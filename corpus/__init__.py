"""Articles: the model, loaders that turn files into articles, and the store that keeps them."""
