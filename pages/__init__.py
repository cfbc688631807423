"""One module per lesson, each with a render() function."""
