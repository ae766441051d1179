"""Image classification, lesson 1's "Is it a bird?": data, transforms, checks on uploads, the training
job, interpretation and the lesson's own figures. No streamlit in here."""
