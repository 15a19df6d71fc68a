public enum RillKernelsPlaceholder {}
