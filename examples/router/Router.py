"""A router: sends requests whose first feature is negative to child 1, the rest to child 0."""


class Router:
    def route(self, features, feature_names):
        return 1 if float(features[0][0]) < 0 else 0

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        # a real router would update its policy here
        return []
