#!/bin/sh
echo "e2e: 0 passed, 0 failed"
