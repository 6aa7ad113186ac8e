from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
exec((here / "flowr" / "__init__.py").read_text(), version)

setup(
    name="django-flowr",
    version=version["__version__"],
    description="Dynamic state machines for Django: rules in code, flows in the database",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author="django-flowr developers",
    license="MIT",
    url="https://github.com/cltrudeau/django-flowr",
    packages=find_packages(include=["flowr", "flowr.*"]),
    include_package_data=True,
    package_data={"flowr": ["py.typed", "templates/**/*", "static/**/*", "schemas/*.json", "locale/*/LC_MESSAGES/*"]},
    python_requires=">=3.11",
    install_requires=[
        "Django>=5.2",
        "djangorestframework>=3.15",
        "drf-spectacular>=0.27",
        "jsonschema>=4.0",
    ],
    classifiers=[
        "Development Status :: 4 - Beta",
        "Environment :: Web Environment",
        "Framework :: Django",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: MIT License",
        "Operating System :: OS Independent",
        "Programming Language :: Python",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Software Development :: Libraries :: Application Frameworks",
    ],
)
